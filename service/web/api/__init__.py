"""The coordinators' REST API at /api/v1, one module per resource."""
