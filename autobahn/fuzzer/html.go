package fuzzer

func writeCaseHTML(path string, r *Result) error { return nil }

func writeIndexHTML(path string, results map[string][]*Result) error { return nil }
