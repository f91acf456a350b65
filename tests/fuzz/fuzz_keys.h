/*
 * fuzz_keys.h -- fixed private keys shared by the harnesses and the seed
 * generator, so generated seeds carry signatures the harness accepts.
 * Test keys only: they sign nothing but fuzz inputs.
 */
#ifndef AIM_FUZZ_KEYS_H
#define AIM_FUZZ_KEYS_H

static const char FUZZ_KEY_ES256[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4tiecDqKS+goj57l\n"
    "LSlAz76AKgYGxt6nhavmuaKWRAqhRANCAAQDnCk3RANXFFVq9YLH4qNz3SN1kroi\n"
    "GGES1aWBwUvWgv0glqfFVhuJoAjvZOaRqozyrG3aS9hmnIMC+Cv1llHX\n"
    "-----END PRIVATE KEY-----\n";

static const char FUZZ_KEY_ES384[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDA0DQvgA5w7P6ifsPO2\n"
    "zlY8qeJCn4WCHG7YIriViHTE84C2/t2DsZ4FzzK26tWyJOyhZANiAAQ9KuEfyuLn\n"
    "ExpBIcdLUYwUPQEgtx/1evhYpqSohidx3azspKWTzzhVtAAnK4fPrONRi6B2FO0i\n"
    "OOpOGCHXEIJYy76KkQLT8fzVoJIh+KN7EhTgi+uw7EidkBB6cCqyQtI=\n"
    "-----END PRIVATE KEY-----\n";

static const char FUZZ_KEY_EDDSA[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIN9DUs20VxKYTXaEDNbe6Qvz9wNnW/DWUaxv8Se4b6hm\n"
    "-----END PRIVATE KEY-----\n";

static const char FUZZ_KEY_RSA[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCr+hTxogtLD0BY\n"
    "9AG4EXUwTTt7gzM+EMSYfImXEc3cpwr/rEUmdAsrbGBb5C0HZyIHFMK1m//T9j3B\n"
    "RdM7Xd5um746do8qXhm40DjZy5gcvfTcUMhr37nsc/lC0PL1iITiTXwxn+v8M4Yo\n"
    "Mu71kFXHKBydXi99P3Vb1pP7G+tFdOiy24XyZdyHuW8SAf9FRp6PY7CrO12VwPrd\n"
    "VCymsEH46PefpQEL44GzbzuUQWnk+4/KunGdV9k1P6823lTUhHfTC041YN9Wajam\n"
    "UpKxPbAFKKeu5XDWFaoEoOD8FspEYr7rcKmRRN9/sdh3UY9ziZa3Nmqt5BLHrRoO\n"
    "F69jxPZTAgMBAAECggEARst3hLLqyDbai+PCs2XIYp5gfqtXVFTtwUH/F+fV4WAI\n"
    "aJCflMFPecwu7JUFLld3zAdxUfaKfVSQPnhCiN1O/CRzzjhRHiVHnGtnA81KbIaL\n"
    "/ofowXODY4GoWieO5KGS5l/0YK9PI26IaxLwiLkmfooWIXgMv5f4dVpjZ4sqMlhN\n"
    "mxkceaoOecO7auQBQWUnRWqKlogwAEItiEocw6c208feP+TozD3N9sHcY5b1iHyt\n"
    "GGLBh70RM38J3zNwZh8FR3RlCtcyP1DsLT7A0TgmJSoUiUUFdQ20kGtHwmVaswBU\n"
    "wBumFAO5rk+/kgEbsPShSZaZY5O4n47kICwT7aqa7QKBgQDcwEMdZlQbLsZ2YUKH\n"
    "i5qikAHGdHs0HaX3xcf48Wa/kaBI8CUR90mDUEX6fza/f4pTKT8ZoGSPnr+sVOsr\n"
    "/jwJGovLwMa2jSmkzzwWCuqXv37xqgmSxgN+gAMbZjb1i53bHuui35AsSPe/EzUz\n"
    "rHSARs5Il6+OV2uiwXgbrT0JBwKBgQDHcA6t1pYisA0/5lVP+zy4FXmId3LzCmHP\n"
    "0EO/eDwhSbbXHt7+Rpa8rNheR8pcqtVr222TbqWmEntF0h1LbcMPbpiHCB3S2Trr\n"
    "RdSPrOyuUIaXFg1tMKGNj/UJOyrkoHLLBNQbJDivm4s9GvtYI1Ttdp5Q1mn+4xst\n"
    "DnVva3yRVQKBgQCgTl5usyjQtJ8ayHZvyEl7U+h2HZB6wC0OSWp2tZdP9ojXbsz8\n"
    "xv9zhI/M4ST4272vtnxEN93PDhFTLDe7stwWIFj0lgG3/7sGHBgeSb8ig8XD6R8a\n"
    "nwFak8ut0gSHO+Reg43KsV8ZScPf1isEY3AW11RmEwFB9OoNP0Hhl2SDcQKBgE+h\n"
    "L0s7jbCF6JRl7BRGNOUvNdpGDzB5Kbqm5hXx9Ng5rXZRDioqlw74WF+0fFjpoNMy\n"
    "xpqCKEOZx3yGO0odpi9oMiBgHkBMmdjMheVj3xBueH6kwHGjZC24l9a6uBKW+Z6T\n"
    "6/h2SufazAp21npHiSZTIT0XjzTFCtm/lyYInbENAoGARF3w24UrrQgbHbVro4+S\n"
    "JRw5//qiQFD4Y5E91M1fMnINgHjuHq9nrpawwHy8cku7wa2bceg99E1GC7ao7nRu\n"
    "WlAps3QBYVx6X8v/n4AmMgrP58qh9VTUMWXQiN/thBiDu2ygpe5p8k9+35Clasby\n"
    "0KTQgrUY+3aksL61iIkn0kQ=\n"
    "-----END PRIVATE KEY-----\n";

#endif
