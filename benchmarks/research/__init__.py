"""Research code of issue 15 (cost-delay frontier, CPU per call, scale): not the product.

Everything here imports the package's internal modules through :mod:`research.internals`
only, so the package can be reorganised by editing one file.
"""
