package archive

// SetTestHookAfterRead lets external tests simulate a file changing while
// it is read.
func SetTestHookAfterRead(fn func(abs string)) { testHookAfterRead = fn }
