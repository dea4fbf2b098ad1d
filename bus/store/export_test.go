package store

// OpenPostgresTable is OpenPostgres on a table of the test's own.
var OpenPostgresTable = openPostgres
