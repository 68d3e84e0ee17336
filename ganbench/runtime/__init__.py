"""The machine a run is on: devices, processes and threads (devices.py, distributed.py,
ray_cluster.py), the conditions that make its timings comparable (conditions.py), its
environment variables and downloads (environment.py, downloads.py), and progress lines
for the person watching (progress.py)."""
