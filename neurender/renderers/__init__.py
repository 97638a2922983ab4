"""The shipped renderers (``*.pt``, inference exports) and their model cards (``*.md``): package data, found by
``neurender.shipped``; README.md lists them."""
