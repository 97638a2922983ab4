"""The one exception type for bad user input; the CLI prints it as a one-line error and exits with code 2."""


class NeurenderError(Exception):
    """Input the user can fix: an unknown preset, a corrupt file, an existing output, ..."""
