package org.flserver.platform;

import org.postgresql.ds.PGSimpleDataSource;

/**
 * PostgreSQL's data source with {@code stringtype=unspecified} always on. The training's
 * {@code options} are a {@code jsonb} column mapped to a plain {@code String} attribute (so the
 * entity stays portable to H2); PostgreSQL accepts such a string for {@code jsonb} only when the
 * driver sends it untyped. Setting it here means an operator's {@code FL_DB_URL} cannot forget it.
 */
public class PostgresDataSource extends PGSimpleDataSource {

    private static final long serialVersionUID = 1L;

    public PostgresDataSource() {
        setStringType("unspecified");
    }

    @Override
    public void setUrl(String url) {
        super.setUrl(url);
        setStringType("unspecified");
    }

    @Override
    public void setURL(String url) {
        super.setURL(url);
        setStringType("unspecified");
    }
}
