"""The pytest adapter: options, fixtures (browser, provider), the Suite and its hooks, the Allure adapter,
budget and interruption, retries, waivers, the gate, watch and the after-run (archive, incident log, notify).

The only layer that knows pytest (and xdist, the Playwright and Allure pytest plugins). May import every other
layer: core, probes, judge, reporting, incident and playbook; no other layer imports it."""
