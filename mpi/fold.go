package mpi

// fold4 folds one group of two to four operands; the first of them may be
// dst itself (a running result).
type fold4[T Number] func(dst, a, b, c, d []T, n int)

// numFold is the fold of the built-in operator name: dst[i] =
// ((s0[i] op s1[i]) op s2[i]) op ..., up to four operands per pass over
// memory, with the results of applying op pairwise in that order, bit for
// bit.
func numFold[T Number](name string) func(dst []T, srcs ...[]T) {
	var group fold4[T]
	switch name {
	case "Sum":
		group = sumGroup[T]
	case "Prod":
		group = prodGroup[T]
	case "Max":
		group = maxGroup[T]
	case "Min":
		group = minGroup[T]
	default:
		return nil
	}
	return func(dst []T, srcs ...[]T) {
		if len(srcs) == 0 {
			return
		}
		if len(srcs) == 1 {
			copy(dst, srcs[0])
			return
		}
		// The first group starts from srcs[0]; later ones from dst.
		k := min(4, len(srcs))
		group(dst, srcs[0], srcs[1], at(srcs, 2, k), at(srcs, 3, k), k)
		for rest := srcs[k:]; len(rest) > 0; rest = rest[k-1:] {
			k = min(3, len(rest)) + 1
			group(dst, dst, rest[0], at(rest, 1, k-1), at(rest, 2, k-1), k)
		}
	}
}

// at returns ops[i] if i < k, else nil.
func at[T any](ops [][]T, i, k int) []T {
	if i < k {
		return ops[i]
	}
	return nil
}

func sumGroup[T Number](dst, a, b, c, d []T, n int) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch n {
	case 2:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case 3:
		c = c[:len(dst)]
		for i := range dst {
			dst[i] = a[i] + b[i] + c[i]
		}
	case 4:
		c, d = c[:len(dst)], d[:len(dst)]
		for i := range dst {
			dst[i] = a[i] + b[i] + c[i] + d[i]
		}
	}
}

func prodGroup[T Number](dst, a, b, c, d []T, n int) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch n {
	case 2:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case 3:
		c = c[:len(dst)]
		for i := range dst {
			dst[i] = a[i] * b[i] * c[i]
		}
	case 4:
		c, d = c[:len(dst)], d[:len(dst)]
		for i := range dst {
			dst[i] = a[i] * b[i] * c[i] * d[i]
		}
	}
}

func maxGroup[T Number](dst, a, b, c, d []T, n int) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch n {
	case 2:
		for i := range dst {
			dst[i] = max(a[i], b[i])
		}
	case 3:
		c = c[:len(dst)]
		for i := range dst {
			dst[i] = max(max(a[i], b[i]), c[i])
		}
	case 4:
		c, d = c[:len(dst)], d[:len(dst)]
		for i := range dst {
			dst[i] = max(max(max(a[i], b[i]), c[i]), d[i])
		}
	}
}

func minGroup[T Number](dst, a, b, c, d []T, n int) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch n {
	case 2:
		for i := range dst {
			dst[i] = min(a[i], b[i])
		}
	case 3:
		c = c[:len(dst)]
		for i := range dst {
			dst[i] = min(min(a[i], b[i]), c[i])
		}
	case 4:
		c, d = c[:len(dst)], d[:len(dst)]
		for i := range dst {
			dst[i] = min(min(min(a[i], b[i]), c[i]), d[i])
		}
	}
}
