"""madoguchi: the composition root. The CLI here is the only code that imports every room."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("madoguchi")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
