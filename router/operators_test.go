package router

import "testing"

// The cases below follow the semantics AWS EventBridge documents for each
// operator; the edge cases it calls out are named as such.

var suffixCases = []matchCase{
	{"suffix selects a string ending with it", `{"source": [{"suffix": "/signup"}]}`, signup, true},
	{"suffix is case-sensitive", `{"source": [{"suffix": "/SIGNUP"}]}`, signup, false},
	{"suffix fails a string not ending with it", `{"source": [{"suffix": "/login"}]}`, signup, false},
	{"a suffix longer than the value fails", `{"source": [{"suffix": "xweb/signup"}]}`, signup, false},
	{"the whole value is its own suffix", `{"source": [{"suffix": "web/signup"}]}`, signup, true},
	{"suffix never matches a number", `{"data": {"seats": [{"suffix": "5"}]}}`, signup, false},
	{"suffix applies to array elements", `{"data": {"tags": [{"suffix": "a"}]}}`, signup, true},
}

var ignoreCaseCases = []matchCase{
	{"equals-ignore-case ignores case", `{"type": [{"equals-ignore-case": "USER.Signed_Up"}]}`, signup, true},
	{"equals-ignore-case still needs the whole value", `{"type": [{"equals-ignore-case": "USER"}]}`, signup, false},
	{"equals-ignore-case folds non-ASCII letters", `{"city": [{"equals-ignore-case": "ÅRHUS"}]}`, `{"city": "århus"}`, true},
	{"equals-ignore-case folds the Kelvin sign like k", `{"unit": [{"equals-ignore-case": "k"}]}`, `{"unit": "\u212a"}`, true},
	{"equals-ignore-case folds final sigma like sigma", `{"w": [{"equals-ignore-case": "ΣΑΣ"}]}`, `{"w": "σας"}`, true},
	{"equals-ignore-case never matches a number", `{"data": {"seats": [{"equals-ignore-case": "5"}]}}`, signup, false},
	{"prefix with equals-ignore-case", `{"data": {"plan": [{"prefix": {"equals-ignore-case": "PRO-"}}]}}`, signup, true},
	{"prefix with equals-ignore-case fails another prefix", `{"data": {"plan": [{"prefix": {"equals-ignore-case": "FREE"}}]}}`, signup, false},
	{"suffix with equals-ignore-case", `{"data": {"plan": [{"suffix": {"equals-ignore-case": "-ANNUAL"}}]}}`, signup, true},
	{"suffix with equals-ignore-case fails another suffix", `{"data": {"plan": [{"suffix": {"equals-ignore-case": "-MONTHLY"}}]}}`, signup, false},
}

var wildcardCases = []matchCase{
	{"a star matches any run of characters", `{"source": [{"wildcard": "web/*"}]}`, signup, true},
	{"a star matches the empty run", `{"source": [{"wildcard": "web/signup*"}]}`, signup, true},
	{"stars in the middle", `{"data": {"file": [{"wildcard": "dir/*/*.png"}]}}`, `{"data": {"file": "dir/a/b.png"}}`, true},
	{"a wildcard without stars is an exact value", `{"source": [{"wildcard": "web/signup"}]}`, signup, true},
	{"literal parts must appear in order", `{"data": {"file": [{"wildcard": "*.png*dir"}]}}`, `{"data": {"file": "dir/a.png"}}`, false},
	{"the first and last parts anchor", `{"data": {"file": [{"wildcard": "a*a"}]}}`, `{"data": {"file": "a"}}`, false},
	{"an escaped star is a literal star", `{"data": {"q": [{"wildcard": "2\\*3"}]}}`, `{"data": {"q": "2*3"}}`, true},
	{"an escaped star does not match other characters", `{"data": {"q": [{"wildcard": "2\\*3"}]}}`, `{"data": {"q": "2x3"}}`, false},
	{"an escaped backslash is a literal backslash", `{"data": {"q": [{"wildcard": "a\\\\*"}]}}`, `{"data": {"q": "a\\bc"}}`, true},
	{"wildcard is case-sensitive", `{"source": [{"wildcard": "WEB/*"}]}`, signup, false},
	{"wildcard never matches a number", `{"data": {"seats": [{"wildcard": "*"}]}}`, signup, false},
}

var anythingButCases = []matchCase{
	{"anything-but a string selects other strings", `{"data": {"plan": [{"anything-but": "free"}]}}`, signup, true},
	{"anything-but a string fails that string", `{"data": {"plan": [{"anything-but": "pro-annual"}]}}`, signup, false},
	{"anything-but a list fails every listed value", `{"data": {"plan": [{"anything-but": ["free", "pro-annual"]}]}}`, signup, false},
	{"anything-but a list selects unlisted values", `{"data": {"plan": [{"anything-but": ["free", "basic"]}]}}`, signup, true},
	{"anything-but a number fails an equal number", `{"data": {"seats": [{"anything-but": 5.0}]}}`, signup, false},
	{"anything-but a number list selects other numbers", `{"data": {"seats": [{"anything-but": [100, 200]}]}}`, signup, true},
	{"anything-but does not match a missing field", `{"data": {"missing": [{"anything-but": "x"}]}}`, signup, false},
	{"anything-but a number selects a string", `{"data": {"plan": [{"anything-but": 5}]}}`, signup, true},
	{"anything-but selects an array with any unlisted element", `{"data": {"tags": [{"anything-but": "a"}]}}`, signup, true},
	{"anything-but fails an array of only listed elements", `{"data": {"tags": [{"anything-but": ["a", "b"]}]}}`, signup, false},
	{"anything-but prefix selects strings without the prefix", `{"data": {"plan": [{"anything-but": {"prefix": "free"}}]}}`, signup, true},
	{"anything-but prefix fails strings with the prefix", `{"data": {"plan": [{"anything-but": {"prefix": "pro"}}]}}`, signup, false},
	{"anything-but prefix fails numbers", `{"data": {"seats": [{"anything-but": {"prefix": "x"}}]}}`, signup, false},
	{"anything-but suffix fails strings with the suffix", `{"data": {"plan": [{"anything-but": {"suffix": "annual"}}]}}`, signup, false},
	{"anything-but suffix selects strings without the suffix", `{"data": {"plan": [{"anything-but": {"suffix": "monthly"}}]}}`, signup, true},
	{"anything-but equals-ignore-case fails any casing", `{"data": {"plan": [{"anything-but": {"equals-ignore-case": "PRO-ANNUAL"}}]}}`, signup, false},
	{"anything-but equals-ignore-case list", `{"data": {"plan": [{"anything-but": {"equals-ignore-case": ["FREE", "BASIC"]}}]}}`, signup, true},
	{"anything-but wildcard fails a matching string", `{"data": {"plan": [{"anything-but": {"wildcard": "pro*"}}]}}`, signup, false},
	{"anything-but wildcard list selects strings matching none", `{"data": {"plan": [{"anything-but": {"wildcard": ["free*", "*basic"]}}]}}`, signup, true},
	{"anything-but a string selects null", `{"data": {"coupon": [{"anything-but": "x"}]}}`, signup, true},
}

var numericCases = []matchCase{
	{"numeric = selects an equal number", `{"data": {"seats": [{"numeric": ["=", 5]}]}}`, signup, true},
	{"numeric = compares numbers not text: 5 equals 5.0", `{"data": {"seats": [{"numeric": ["=", 5.0]}]}}`, signup, true},
	{"numeric = with an exponent: 3.018e2 equals 301.8", `{"x": [{"numeric": ["=", 3.018e2]}]}`, `{"x": 301.8}`, true},
	{"numeric > excludes its bound", `{"data": {"seats": [{"numeric": [">", 5]}]}}`, signup, false},
	{"numeric >= includes its bound", `{"data": {"seats": [{"numeric": [">=", 5]}]}}`, signup, true},
	{"numeric < excludes its bound", `{"data": {"seats": [{"numeric": ["<", 5]}]}}`, signup, false},
	{"numeric <= includes its bound", `{"data": {"seats": [{"numeric": ["<=", 5]}]}}`, signup, true},
	{"numeric range inside", `{"data": {"seats": [{"numeric": [">", 0, "<=", 5]}]}}`, signup, true},
	{"numeric range outside", `{"data": {"seats": [{"numeric": [">", 5, "<", 10]}]}}`, signup, false},
	{"numeric range bounds in either order", `{"data": {"seats": [{"numeric": ["<=", 5, ">", 0]}]}}`, signup, true},
	{"numeric does not match a numeric string", `{"n": [{"numeric": ["=", 3]}]}`, `{"n": "3"}`, false},
	{"numeric does not match a missing field", `{"data": {"missing": [{"numeric": [">", 0]}]}}`, signup, false},
	{"numeric applies to array elements", `{"xs": [{"numeric": [">", 10]}]}`, `{"xs": [1, 20]}`, true},
	{"negative numbers", `{"t": [{"numeric": ["<", -1.5]}]}`, `{"t": -2}`, true},
	{"precision is six decimal places: a difference below it is equal", `{"x": [{"numeric": ["=", 0.000001]}]}`, `{"x": 0.0000012}`, true},
	{"precision is six decimal places: a difference at it is not", `{"x": [{"numeric": [">", 0.000001]}]}`, `{"x": 0.000002}`, true},
	{"the range ends at 5e9: a larger event value never matches", `{"x": [{"numeric": [">", 0]}]}`, `{"x": 5000000001}`, false},
	{"5e9 itself is in range", `{"x": [{"numeric": ["=", 5e9]}]}`, `{"x": 5000000000}`, true},
	{"an integer extension compares numerically", `{"count": [{"numeric": [">=", 3, "<", 4]}]}`, signup, true},
}

var cidrCases = []matchCase{
	{"cidr selects an IPv4 address inside the network", `{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}`, `{"data": {"ip": "10.0.0.33"}}`, true},
	{"cidr fails an IPv4 address outside the network", `{"data": {"ip": [{"cidr": "10.0.0.0/24"}]}}`, `{"data": {"ip": "10.0.1.33"}}`, false},
	{"cidr selects an IPv6 address inside the network", `{"data": {"ip": [{"cidr": "2001:db8::/32"}]}}`, `{"data": {"ip": "2001:db8:1::7"}}`, true},
	{"cidr fails an IPv6 address outside the network", `{"data": {"ip": [{"cidr": "2001:db8::/32"}]}}`, `{"data": {"ip": "2001:db9::1"}}`, false},
	{"an IPv4 network does not contain IPv6 addresses", `{"data": {"ip": [{"cidr": "0.0.0.0/0"}]}}`, `{"data": {"ip": "2001:db8::1"}}`, false},
	{"an IPv4-mapped IPv6 address counts as IPv4", `{"data": {"ip": [{"cidr": "10.0.0.0/8"}]}}`, `{"data": {"ip": "::ffff:10.1.2.3"}}`, true},
	{"cidr fails a string that is not an address", `{"data": {"ip": [{"cidr": "10.0.0.0/8"}]}}`, `{"data": {"ip": "10.0.0.x"}}`, false},
	{"a /32 network is one address", `{"data": {"ip": [{"cidr": "10.0.0.1/32"}]}}`, `{"data": {"ip": "10.0.0.1"}}`, true},
}

var orCases = []matchCase{
	{"$or selects when one alternative holds", `{"$or": [{"type": ["x"]}, {"source": ["web/signup"]}]}`, signup, true},
	{"$or fails when no alternative holds", `{"$or": [{"type": ["x"]}, {"source": ["y"]}]}`, signup, false},
	{"$or ANDs with the other fields", `{"type": ["user.signed_up"], "$or": [{"source": ["y"]}, {"count": [3]}]}`, signup, true},
	{"$or ANDs with failing fields", `{"type": ["nope"], "$or": [{"source": ["web/signup"]}, {"count": [3]}]}`, signup, false},
	{"$or inside a nested object applies to its fields", `{"data": {"$or": [{"plan": ["free"]}, {"seats": [5]}]}}`, signup, true},
	{"$or alternatives hold several fields", `{"$or": [{"type": ["user.signed_up"], "source": ["x"]}, {"type": ["user.signed_up"], "beta": [true]}]}`, signup, true},
	{"nested $or", `{"$or": [{"type": ["x"]}, {"$or": [{"source": ["y"]}, {"beta": [true]}]}]}`, signup, true},
	{"two $or groups must both hold", `{"$or": [{"type": ["x"]}, {"beta": [true]}], "data": {"$or": [{"plan": ["free"]}, {"trial": [true]}]}}`, signup, false},
	{"$or with exists false", `{"$or": [{"data": {"missing": [{"exists": true}]}}, {"data": {"gone": [{"exists": false}]}}]}`, signup, true},
}

func TestMatchMoreOperators(t *testing.T) {
	for _, group := range []struct {
		name  string
		cases []matchCase
	}{
		{"suffix", suffixCases},
		{"equals-ignore-case", ignoreCaseCases},
		{"wildcard", wildcardCases},
		{"anything-but", anythingButCases},
		{"numeric", numericCases},
		{"cidr", cidrCases},
		{"$or", orCases},
	} {
		t.Run(group.name, func(t *testing.T) {
			for _, tc := range group.cases {
				t.Run(tc.name, func(t *testing.T) { checkMatch(t, tc) })
			}
		})
	}
}
