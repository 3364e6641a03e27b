package geo

// continentOf returns the continent of an ISO 3166-1 alpha-2 country code,
// for databases (DB-IP Lite) whose records name only the country. The
// assignment is GeoNames', which MaxMind's continent.code follows: Russia and
// Cyprus are in Europe, Turkey, Georgia, Armenia and Azerbaijan in Asia,
// Timor-Leste and Christmas Island in Oceania, Central America and the
// Caribbean in North America. XK (Kosovo) is the user-assigned code both
// MaxMind and DB-IP use. Unknown codes give "".
func continentOf(country string) string {
	switch country {
	case "AO", "BF", "BI", "BJ", "BW", "CD", "CF", "CG", "CI", "CM",
		"CV", "DJ", "DZ", "EG", "EH", "ER", "ET", "GA", "GH", "GM",
		"GN", "GQ", "GW", "KE", "KM", "LR", "LS", "LY", "MA", "MG",
		"ML", "MR", "MU", "MW", "MZ", "NA", "NE", "NG", "RE", "RW",
		"SC", "SD", "SH", "SL", "SN", "SO", "SS", "ST", "SZ", "TD",
		"TG", "TN", "TZ", "UG", "YT", "ZA", "ZM", "ZW":
		return "AF"
	case "AQ", "BV", "GS", "HM", "TF":
		return "AN"
	case "AE", "AF", "AM", "AZ", "BD", "BH", "BN", "BT", "CC", "CN",
		"GE", "HK", "ID", "IL", "IN", "IO", "IQ", "IR", "JO", "JP",
		"KG", "KH", "KP", "KR", "KW", "KZ", "LA", "LB", "LK", "MM",
		"MN", "MO", "MV", "MY", "NP", "OM", "PH", "PK", "PS", "QA",
		"SA", "SG", "SY", "TH", "TJ", "TM", "TR", "TW", "UZ", "VN",
		"YE":
		return "AS"
	case "AD", "AL", "AT", "AX", "BA", "BE", "BG", "BY", "CH", "CY",
		"CZ", "DE", "DK", "EE", "ES", "FI", "FO", "FR", "GB", "GG",
		"GI", "GR", "HR", "HU", "IE", "IM", "IS", "IT", "JE", "LI",
		"LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL", "NO",
		"PL", "PT", "RO", "RS", "RU", "SE", "SI", "SJ", "SK", "SM",
		"UA", "VA", "XK":
		return "EU"
	case "AG", "AI", "AW", "BB", "BL", "BM", "BQ", "BS", "BZ", "CA",
		"CR", "CU", "CW", "DM", "DO", "GD", "GL", "GP", "GT", "HN",
		"HT", "JM", "KN", "KY", "LC", "MF", "MQ", "MS", "MX", "NI",
		"PA", "PM", "PR", "SV", "SX", "TC", "TT", "US", "VC", "VG",
		"VI":
		return "NA"
	case "AS", "AU", "CK", "CX", "FJ", "FM", "GU", "KI", "MH", "MP",
		"NC", "NF", "NR", "NU", "NZ", "PF", "PG", "PN", "PW", "SB",
		"TK", "TL", "TO", "TV", "UM", "VU", "WF", "WS":
		return "OC"
	case "AR", "BO", "BR", "CL", "CO", "EC", "FK", "GF", "GY", "PE",
		"PY", "SR", "UY", "VE":
		return "SA"
	}
	return ""
}
