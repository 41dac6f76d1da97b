"""The shipped models and sample images, installed as the package `lstm_compare_resources`
(pyproject.toml maps it to this folder), so an installed wheel has them too."""
