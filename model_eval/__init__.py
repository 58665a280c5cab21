"""model_eval package."""
