Feature: token
