"""reclab: teaching labs on neural recommender systems with Keras and MovieLens 100k.

The package takes the chores (data, splits, metrics, plots, self-checks, grading) so that
each notebook cell spends its time on the idea it teaches.

Example:
    >>> from reclab.data import load_movielens_100k  # doctest: +SKIP
    >>> ml = load_movielens_100k()                    # doctest: +SKIP
    >>> ml.ratings.shape                              # doctest: +SKIP
    (100000, 4)
"""

__version__ = "0.1.0"
