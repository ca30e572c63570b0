package models

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// dialect is the database engine a Store talks to. The portal's behaviour is
// the same on each; only some SQL (the search index, bulk loading) differs.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
	dialectMySQL
)

func (d dialect) String() string {
	switch d {
	case dialectPostgres:
		return "postgres"
	case dialectMySQL:
		return "mysql"
	}
	return "sqlite"
}

// Dialect names the engine the store uses: "sqlite", "postgres" or "mysql".
func (s *Store) Dialect() string { return s.dialect.String() }

// Describe names the database for logs: the file, or the address with its
// password hidden.
func (s *Store) Describe() string { return s.name }

// OpenURL opens the database that dsn names: a plain file path is SQLite
// (as Open), postgres://… or postgresql://… is PostgreSQL, and mysql://… is
// MySQL or MariaDB (and TiDB, which speaks MySQL). It does not migrate.
func OpenURL(dsn string) (*Store, error) {
	switch {
	case !strings.Contains(dsn, "://"):
		return Open(dsn)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openServer(postgres.Open(postgresDSN(dsn)), dialectPostgres, dsn)
	case strings.HasPrefix(dsn, "mysql://"):
		my, err := mysqlDSN(dsn)
		if err != nil {
			return nil, err
		}
		return openServer(mysql.Open(my), dialectMySQL, dsn)
	}
	return nil, fmt.Errorf("open database: %s: the address must be a file path, postgres://… or mysql://…", redactURL(dsn))
}

// postgresDSN makes the session's time zone UTC unless the address sets
// one, so that timestamps read back as they were written.
func postgresDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	if q.Get("timezone") == "" && q.Get("TimeZone") == "" {
		q.Set("timezone", "UTC")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// mysqlDSN translates mysql://user:pass@host:port/db?opts into the
// go-sql-driver form user:pass@tcp(host:port)/db?opts, with the settings the
// portal needs: times parsed and in UTC, and the full UTF-8 character set
// (utf8mb4, not MySQL's three-byte utf8).
func mysqlDSN(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("open database: malformed MySQL address: %w", err)
	}
	host := u.Host
	if host == "" {
		host = "127.0.0.1:3306"
	} else if u.Port() == "" {
		host += ":3306"
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return "", fmt.Errorf("open database: %s: name the database (mysql://user@host:3306/portal)", redactURL(dsn))
	}
	q := u.Query()
	// interpolateParams sends each query in one round trip instead of
	// prepare, execute and close (safe with utf8mb4). clientFoundRows makes
	// an UPDATE report the rows it matched, not only those it changed, as
	// SQLite and PostgreSQL do: the version checks read that count.
	for k, v := range map[string]string{"parseTime": "true", "loc": "UTC", "charset": "utf8mb4", "collation": "utf8mb4_bin",
		"interpolateParams": "true", "clientFoundRows": "true"} {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	// Every session reads and writes times in UTC, whatever the server's
	// own zone, so that NOW() and stored values agree.
	if q.Get("time_zone") == "" {
		q.Set("time_zone", "'+00:00'")
	}
	var user string
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			user += ":" + p
		}
		user += "@"
	}
	return user + "tcp(" + host + ")/" + name + "?" + q.Encode(), nil
}

// redactURL hides the password of an address in messages.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(malformed address)"
	}
	return u.Redacted()
}

// openServer opens a database server's connection pool. Unlike SQLite's
// single writer, the server takes concurrent writers, so the pool is wider;
// every instance of the portal has its own pool, so keep the server's
// connection limit above instances × 16.
func openServer(d gorm.Dialector, dl dialect, dsn string) (*Store, error) {
	db, err := gorm.Open(d, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactURL(dsn), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactURL(dsn), err)
	}
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(16)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	// Servers and proxies close idle connections; recycle them before.
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", redactURL(dsn), err)
	}
	cal, err := LoadCalendar()
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	version := &contentVersion{}
	if err := trackContentVersion(db, version); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", redactURL(dsn), err)
	}
	return &Store{db: db, cal: cal, dialect: dl, name: redactURL(dsn), version: version}, nil
}

// CreateDatabase creates a new, empty database with a random name on the
// PostgreSQL or MySQL server that serverURL points at (its database part is
// where to connect for the CREATE), with UTF-8 throughout. It returns the
// new database's address and a function that drops it. Tests use it to give
// every test a database of its own.
func CreateDatabase(ctx context.Context, serverURL, prefix string) (dbURL string, drop func() error, err error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := prefix + "_" + hex.EncodeToString(b[:])
	var create, dropSQL string
	switch u.Scheme {
	case "postgres", "postgresql":
		// C.UTF-8 character classes: the text-search parser then sees
		// Chinese characters as letters.
		create = "CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
		dropSQL = "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"
	case "mysql":
		create = "CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		dropSQL = "DROP DATABASE IF EXISTS " + name
		if strings.Trim(u.Path, "/") == "" {
			u.Path = "/mysql"
		}
	default:
		return "", nil, fmt.Errorf("create database: %s: not a postgres:// or mysql:// address", redactURL(serverURL))
	}
	admin, err := OpenURL(u.String())
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	if err := admin.db.WithContext(ctx).Exec(create).Error; err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	nu := *u
	nu.Path = "/" + name
	drop = func() error {
		a, err := OpenURL(u.String())
		if err != nil {
			return err
		}
		defer a.Close()
		return a.db.Exec(dropSQL).Error
	}
	return nu.String(), drop, nil
}

// dialectOf is the dialect of a GORM connection, for the migrations,
// which have no Store.
func dialectOf(db *gorm.DB) dialect {
	switch db.Dialector.Name() {
	case "postgres":
		return dialectPostgres
	case "mysql":
		return dialectMySQL
	}
	return dialectSQLite
}

// localMonthSQL is the SQL for the month (2006-01, Beijing time) of a UTC
// timestamp column, as MonthOf gives it: the key of the monthly totals.
func (d dialect) localMonthSQL(col string) string {
	return "substr(" + d.localDaySQL(col) + ", 1, 7)"
}

// localDaySQL is the SQL for the calendar day (2006-01-02, Beijing time,
// UTC+8 all year) of a UTC timestamp column, as the rating totals key it.
func (d dialect) localDaySQL(col string) string {
	switch d {
	case dialectPostgres:
		return "to_char((" + col + " AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-DD')"
	case dialectMySQL:
		return "DATE_FORMAT(DATE_ADD(" + col + ", INTERVAL 8 HOUR), '%Y-%m-%d')"
	}
	return "substr(datetime(" + col + ", '+8 hours'), 1, 10)"
}

// forUpdate makes the queries built on tx lock the rows they read until the
// transaction ends. SQLite's immediate write transactions already serialise
// writers (the driver leaves the clause out); PostgreSQL and MySQL need the
// row locks so that a read-check-write in a transaction cannot interleave
// with another instance's.
func forUpdate(tx *gorm.DB) *gorm.DB {
	return tx.Clauses(clause.Locking{Strength: "UPDATE"}).Session(&gorm.Session{})
}

// quote quotes an identifier for the store's engine.
func (s *Store) quote(name string) string {
	var b strings.Builder
	s.db.Dialector.QuoteTo(&b, name)
	return b.String()
}
