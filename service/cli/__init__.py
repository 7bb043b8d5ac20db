"""The coordinators' command line, `peerline`: one module per command group."""
