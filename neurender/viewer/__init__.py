"""The live viewer: a local web page with a slider per parameter, the neural and the exact image side by side."""
