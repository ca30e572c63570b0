package models

import "testing"

func TestMySQLAddressBecomesDriverDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mysql://root@127.0.0.1:3306/portal",
			"root@tcp(127.0.0.1:3306)/portal?charset=utf8mb4&clientFoundRows=true&collation=utf8mb4_bin&interpolateParams=true&loc=UTC&parseTime=true&time_zone=%27%2B00%3A00%27"},
		{"mysql://portal:s%40cret@db.internal/portal?tls=true",
			"portal:s@cret@tcp(db.internal:3306)/portal?charset=utf8mb4&clientFoundRows=true&collation=utf8mb4_bin&interpolateParams=true&loc=UTC&parseTime=true&time_zone=%27%2B00%3A00%27&tls=true"},
	}
	for _, tt := range tests {
		got, err := mysqlDSN(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("mysqlDSN(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := mysqlDSN("mysql://root@127.0.0.1:3306/"); err == nil {
		t.Error("an address without a database must be refused")
	}
}

func TestOpenURLRefusesUnknownSchemes(t *testing.T) {
	if _, err := OpenURL("redis://127.0.0.1:6379/0"); err == nil {
		t.Fatal("redis:// is not a database the portal can use")
	}
}
