"""Optimiser drivers that know nothing of style transfer or TensorFlow's
losses: scipy's L-BFGS-B and Adam on the host, L-BFGS on the device.
"""
