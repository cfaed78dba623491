"""The authoring studio's engine-level tools: a scenario's own tests and the exploration of its beat graph.

Above the session layer (it plays conversations) and below the command line and the apps.
"""
