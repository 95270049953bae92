package pt

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// maxPickleBytes caps data.pkl: it holds only structure (tensor data lives
// in separate records), so even a large model's pickle is a few MB.
const maxPickleBytes = 256 << 20

// maxDepth bounds the nesting of flattened containers; a pickle can build a
// list that contains itself.
const maxDepth = 100

// ReadFrom reads a checkpoint from r (size bytes); name is used in errors.
func ReadFrom(r io.ReaderAt, size int64, name string) (c *Checkpoint, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("pt: %s: corrupt checkpoint (%v)", name, p)
		}
	}()
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("pt: %s: not a zip archive (%v): a truncated file, or not the torch.save format of PyTorch ≥ 1.6 (the only one supported)", name, err)
	}
	a := &archive{name: name, size: size, files: map[string]*zip.File{}, cache: map[string][]byte{}, refs: map[string]int{}}
	for _, f := range zr.File {
		a.files[f.Name] = f
		if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") {
			if a.pkl != nil {
				return nil, a.errorf("several data.pkl records")
			}
			a.pkl, a.prefix = f, strings.TrimSuffix(f.Name, "data.pkl")
		}
	}
	if a.pkl == nil {
		return nil, a.errorf("no data.pkl record: not a torch.save checkpoint")
	}
	if _, ok := a.files[a.prefix+"constants.pkl"]; ok {
		return nil, a.errorf("a TorchScript archive; save a state_dict instead")
	}
	if bo, ok := a.files[a.prefix+"byteorder"]; ok {
		b, err := a.read(bo, 16)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, a.errorf("byte order %q is not supported", b)
		}
	}
	pkl, err := a.read(a.pkl, maxPickleBytes)
	if err != nil {
		return nil, err
	}
	if err := checkPickle(pkl); err != nil {
		return nil, a.errorf("data.pkl: %v", err)
	}
	u := pickle.NewUnpickler(bytes.NewReader(pkl))
	u.FindClass = findClass
	u.PersistentLoad = a.persistentLoad
	obj, err := u.Load()
	if err != nil {
		return nil, a.errorf("data.pkl: %v", err)
	}
	c = &Checkpoint{Tensors: map[string]*Tensor{}}
	// Each node of a tree costs at least a byte of pickle; leave room for
	// honest sharing (tied weights, a config referenced twice).
	w := &walker{c: c, nodes: 8*len(pkl) + 1<<16}
	if err := w.walk(obj, "", 0); err != nil {
		return nil, a.errorf("%v", err)
	}
	for _, v := range w.views {
		a.refs[v.t.storage.key]++
	}
	for _, v := range w.views {
		t, err := a.materialise(v.t)
		if err != nil {
			return nil, a.errorf("tensor %q: %v", v.key, err)
		}
		c.Tensors[v.key] = t
	}
	return c, nil
}

// archive is the zip of one checkpoint.
type archive struct {
	name   string
	size   int64
	files  map[string]*zip.File
	pkl    *zip.File
	prefix string // directory of data.pkl, e.g. "archive/"

	cache map[string][]byte // storage bytes by key, while some view still needs them
	refs  map[string]int    // views left per storage key
}

func (a *archive) errorf(format string, args ...any) error {
	return fmt.Errorf("pt: %s: %s", a.name, fmt.Sprintf(format, args...))
}

// read returns the contents of a record after checking its declared size
// against limit and against what the archive can hold.
func (a *archive) read(f *zip.File, limit int64) ([]byte, error) {
	b, err := a.readRecord(f, limit)
	if err != nil {
		return nil, a.errorf("%v", err)
	}
	return b, nil
}

// readRecord is read without the file name in its errors.
func (a *archive) readRecord(f *zip.File, limit int64) ([]byte, error) {
	n := f.UncompressedSize64
	// Deflate expands at most ~1032×; torch stores records uncompressed.
	if n > uint64(limit) || f.CompressedSize64 > uint64(a.size) || n > 1100*f.CompressedSize64+1024 {
		return nil, fmt.Errorf("record %s: implausible size %d", f.Name, n)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %v", f.Name, err)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("record %s: %v", f.Name, err)
	}
	return b, nil
}

// storage is a persistent reference to a data/<key> record.
type storage struct {
	dtype string
	key   string
	numel int
}

// storageClass is a torch.*Storage class named in the pickle.
type storageClass struct{ dtype string }

var storageTypes = map[string]string{
	"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL", "UntypedStorage": "U8",
}

// persistentLoad resolves ('storage', class, key, location, numel).
func (a *archive) persistentLoad(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < 5 || t.Get(0) != "storage" {
		return nil, fmt.Errorf("unexpected persistent id (%T)", id) // not %v: a hostile pickle can make it cyclic
	}
	cls, ok1 := t.Get(1).(*storageClass)
	key, ok2 := t.Get(2).(string)
	numel, ok3 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("unexpected storage reference (%T, %d items)", id, t.Len())
	}
	if cls.dtype == "" {
		return nil, fmt.Errorf("storage %s: unsupported storage type", key)
	}
	if _, ok := a.files[a.prefix+"data/"+key]; !ok {
		return nil, fmt.Errorf("storage %s: no record %sdata/%s", key, a.prefix, key)
	}
	return &storage{dtype: cls.dtype, key: key, numel: numel}, nil
}

// tensorRef is what _rebuild_tensor_v2 returns: a view into a storage.
type tensorRef struct {
	storage *storage
	offset  int
	size    []int
	stride  []int
}

type function func(args ...any) (any, error)

func (f function) Call(args ...any) (any, error) { return f(args...) }

// findClass resolves the globals a checkpoint names. Anything else becomes
// an opaque object, so optimizer state, argparse.Namespace or numpy scalars
// never stop the tensors from loading.
func findClass(module, name string) (any, error) {
	if module == "torch" && strings.HasSuffix(name, "Storage") {
		return &storageClass{dtype: storageTypes[name]}, nil
	}
	switch module + "." + name {
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		return function(rebuildTensor), nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks[, state]): the data is the tensor.
		return function(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, fmt.Errorf("%s: no arguments", name)
			}
			return args[0], nil
		}), nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, type, args, state): a tensor with Python attributes.
		return function(func(args ...any) (any, error) {
			if len(args) < 3 {
				return nil, fmt.Errorf("%s: %d arguments", name, len(args))
			}
			f, ok1 := args[0].(types.Callable)
			fa, ok2 := args[2].(*types.Tuple)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: unexpected arguments", name)
			}
			return f.Call(*fa...)
		}), nil
	}
	return &opaqueClass{module: module, name: name}, nil
}

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor: %d arguments", len(args))
	}
	st, ok1 := args[0].(*storage)
	off, ok2 := args[1].(int)
	size, err1 := ints(args[2])
	stride, err2 := ints(args[3])
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("_rebuild_tensor: unexpected arguments")
	}
	return &tensorRef{storage: st, offset: off, size: size, stride: stride}, nil
}

func ints(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("not a tuple")
	}
	out := make([]int, t.Len())
	for i := range out {
		if out[i], ok = t.Get(i).(int); !ok {
			return nil, fmt.Errorf("not an int")
		}
	}
	return out, nil
}

// opaqueClass stands for any class pt does not know.
type opaqueClass struct{ module, name string }

func (c *opaqueClass) Call(args ...any) (any, error)  { return &opaque{class: c}, nil }
func (c *opaqueClass) PyNew(args ...any) (any, error) { return &opaque{class: c}, nil }

// opaque is an instance of an unknown class. It accepts whatever the pickle
// does to it; dict-like items (defaultdict, AttributeDict) are kept so that
// tensors inside them are still found.
type opaque struct {
	class *opaqueClass
	items types.Dict
}

func (o *opaque) Set(k, v any)                    { o.items.Set(k, v) }
func (o *opaque) Append(v any)                    {}
func (o *opaque) Add(v any)                       {}
func (o *opaque) PySetState(any) error            { return nil }
func (o *opaque) PyDictSet(k, v any) error        { return nil }
func (o *opaque) PySetAttr(k string, v any) error { return nil }

type view struct {
	key string
	t   *tensorRef
}

// walker flattens the unpickled object in order, collecting tensor views
// and the keys of other leaves.
type walker struct {
	c     *Checkpoint
	views []view
	nodes int // left to visit: memo references can make a tiny pickle expand exponentially
}

func (w *walker) walk(obj any, prefix string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%q: nested deeper than %d", prefix, maxDepth)
	}
	if w.nodes--; w.nodes < 0 {
		return fmt.Errorf("too many nested references (a pickle bomb?)")
	}
	child := func(k any, v any) error {
		return w.walk(v, prefix+keyString(k)+".", depth+1)
	}
	switch o := obj.(type) {
	case *types.Dict:
		for _, e := range *o {
			if err := child(e.Key, e.Value); err != nil {
				return err
			}
		}
		return nil
	case *types.OrderedDict:
		for e := o.List.Front(); e != nil; e = e.Next() {
			kv := e.Value.(*types.OrderedDictEntry)
			if err := child(kv.Key, kv.Value); err != nil {
				return err
			}
		}
		return nil
	case *types.List:
		for i, v := range *o {
			if err := child(i, v); err != nil {
				return err
			}
		}
		return nil
	case *types.Tuple:
		for i, v := range *o {
			if err := child(i, v); err != nil {
				return err
			}
		}
		return nil
	case *opaque:
		if len(o.items) > 0 {
			return w.walk(&o.items, prefix, depth)
		}
	}
	key := strings.TrimSuffix(prefix, ".")
	if t, ok := obj.(*tensorRef); ok {
		if _, dup := w.c.Tensors[key]; dup {
			return fmt.Errorf("duplicate key %q", key)
		}
		w.c.Tensors[key] = nil // reserved; filled by materialise
		w.c.Keys = append(w.c.Keys, key)
		w.views = append(w.views, view{key, t})
		return nil
	}
	w.c.Other = append(w.c.Other, key)
	return nil
}

func keyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int:
		return strconv.Itoa(k)
	case *big.Int:
		return k.String()
	case bool:
		return strconv.FormatBool(k)
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64)
	case nil:
		return "None"
	}
	// A container used as a key is never a state-dict name; printing it could
	// recurse forever (a pickle can make a dict contain itself), so name its type.
	return fmt.Sprintf("<%T>", k)
}
