"""The recommendation engine: index, proximity, objective, solvers, recommender, learned
affinity, evaluation and portfolio."""
