"""The exceptions tfstyle raises for problems a user can fix.

Each carries a one-line message that names the bad file or option; the CLI
prints it as is and exits with code 2.
"""


class TfstyleError(Exception):
    """Base class: a problem with the user's input, options or environment."""


class ImageError(TfstyleError):
    """An image file is missing, unreadable, too large or too small."""


class WeightsError(TfstyleError):
    """VGG19 weights cannot be found, downloaded or loaded."""


class ConfigError(TfstyleError, ValueError):
    """An option has a bad value. `option` is the StyleConfig field name."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


class OutputError(TfstyleError):
    """An output path cannot be written."""


class NonFiniteLossError(TfstyleError):
    """The loss or its gradient became NaN or infinite during optimisation."""
