int eam_schema_placeholder;
