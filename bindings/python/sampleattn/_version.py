"""Version of the Python package; its major.minor must equal the library's SA_VERSION_MAJOR/MINOR."""
__version__ = "0.4.0"
