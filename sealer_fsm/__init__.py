"""sealer-fsm: a Filecoin sealing worker whose task flows are YAML plans run on `transitions` machines."""

__version__ = "0.1.0"
