"""distributor: send a newsroom's articles to email lists and messaging channels."""

__version__ = "0.1.0"
