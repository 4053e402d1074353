"""XGBoost fraud model: training set loading, training, threshold choice, evaluation, registry.

Modules import xgboost/matplotlib lazily where they can, so the registry can be read cheaply.
"""
