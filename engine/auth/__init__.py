"""Identity, authentication and audit (DESIGN §11): users, departments, roles, sessions,
API tokens and the audit log. Authorization of records (scopes, field access) builds on it."""
