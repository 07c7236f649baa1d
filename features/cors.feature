Feature: cors
