"""stackeye.query.views: one module per APM view."""
