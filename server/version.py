"""The installed version of the project, as the server reports it."""

from importlib.metadata import PackageNotFoundError, version

try:
    SERVER_VERSION = version("hai-long")
except PackageNotFoundError:  # running from a source tree that was not installed
    SERVER_VERSION = "0+unknown"
