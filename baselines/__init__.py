"""Reference generators and discriminators; each module registers its model by name."""
