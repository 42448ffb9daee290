"""Command-line interface: thin layers over the public API (``molvae --help``)."""
