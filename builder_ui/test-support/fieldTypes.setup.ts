// Unit tests see the field types' traits as the app shell does after `GET /schema/field-types`:
// field-types.json is that answer, and tests/forms/test_field_traits.py keeps it equal to the server's.
import { setFieldTypes, type TraitsSource } from "../src/forms/fieldTypes";
import palette from "./field-types.json";

setFieldTypes(palette as TraitsSource[]);
