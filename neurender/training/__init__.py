"""Training: losses, the G/D balance controller, checkpoints, configs and the loop."""
