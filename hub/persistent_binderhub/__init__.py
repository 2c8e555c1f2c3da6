"""persistent_binderhub: several projects per user on one volume, for BinderHub with JupyterHub.

Runs inside the JupyterHub pod: spawner.PersistentBinderSpawner, the projects API
(api.py), the home page (templates/), and hubconfig.configure(c) to wire them up.
"""
