package sigv4

// CredentialStore resolves access key IDs to secret access keys.
type CredentialStore interface {
	// Secret returns the secret access key for accessKeyID and true, or
	// ("", false) if the key is unknown. It is called once per request, so
	// it must be cheap (no I/O on the hot path) and safe for concurrent use.
	Secret(accessKeyID string) (secret string, ok bool)
}

// StaticCredentials is a CredentialStore backed by a fixed map from access
// key ID to secret access key. It must not be modified after it is handed
// to a Verifier.
type StaticCredentials map[string]string

// Secret implements CredentialStore.
func (s StaticCredentials) Secret(accessKeyID string) (string, bool) {
	secret, ok := s[accessKeyID]
	return secret, ok
}
