mission "t" {
  seed = 
}
