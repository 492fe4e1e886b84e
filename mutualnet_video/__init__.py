"""mutualnet_video: one 3D video network that runs at many compute budgets (MutualNet for video)."""
__version__ = "0.1.0"
