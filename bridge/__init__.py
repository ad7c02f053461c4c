"""The eID bridge: Belgian eID card access for web pages, and the portal that relies on it."""

__version__ = "0.1.0"
