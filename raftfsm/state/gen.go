package state

//go:generate msgp -file types.go -o zz_generated_msgp.go -tests=false
