"""Response models of the HTTP API (issue 16): what each route answers, for the OpenAPI
document and the UI's generated types (builder_ui/src/api/schema.d.ts).

One module per area, each model owned by the routes of that area. The models describe the
answers exactly as the routes have always written them: a model never adds, drops or converts
a key (tests/response_guard.py checks every answer the test suite sees). JSON that is open by
nature (record values, definitions, labels) is modelled as an object with its fixed keys typed
and `additionalProperties` for the rest.
"""
