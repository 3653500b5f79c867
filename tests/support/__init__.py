"""Helpers the tests share, one module per concern; none of them is a fixture the root registers.

- clock: the settable clock and the suite's today (TODAY);
- api: requests against /api/v1 (create, fire, satisfy a step, move a project forward, problems),
  API keys made directly, the routes an application serves;
- accounts: people and their role grants, logins, a person's browser, cheap password hashing;
- evidence: a realistic body for every kind of evidence, a project holding one of each;
- html: a small HTML tree and the page-form helpers;
- webhooks: a loopback HTTP receiver, a worker on the test database;
- fake_uow: a unit of work in memory, for the services' tests without a database.

Fixtures that several folders opt into (`fast_passwords`, `receiver`, `loopback`) are defined here and
imported by the conftest.py of each folder that wants them.
"""
