"""Everything that touches the catalog: database, schema, ingest, embeddings, search, SQL guard."""
