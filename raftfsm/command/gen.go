package command

//go:generate msgp -file command.go -o zz_generated_meta_msgp.go -tests=false
//go:generate msgp -file types.go -o zz_generated_msgp.go -tests=false
