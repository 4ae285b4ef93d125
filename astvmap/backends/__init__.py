"""Optional backends (Numba, Dask). Importing astvmap never imports them."""
