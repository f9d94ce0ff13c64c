"""The pytest adapter: options, fixtures, the Allure adapter, watch and the after-run.

The only layer that knows pytest; may import every other layer."""
