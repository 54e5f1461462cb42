"""The gateway's public routes, one module per area; :mod:`proxy` passes the rest on."""
